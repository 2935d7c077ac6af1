"""Reports (issue 13): the leaders' dashboard and the pieces the other reports share."""
