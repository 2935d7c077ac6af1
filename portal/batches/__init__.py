"""Product catalogue and production batches (生产批号), traced to a production department."""
