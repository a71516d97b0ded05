"""bright-eval: which query rewriter, with which retriever, wins on BRIGHT."""

__version__ = "0.1.0"
