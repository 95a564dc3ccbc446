"""The `rewriter` command: options in, the library's API, a report out."""
