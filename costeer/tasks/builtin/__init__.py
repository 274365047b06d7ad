"""Built-in tasks, one module each; every module here is imported on the first task look-up."""
