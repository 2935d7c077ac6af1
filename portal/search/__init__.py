"""Chinese free-text search: a bigram index of the cases' names, products and descriptions."""
