"""Getting feeds: fetch over HTTP or from a file, parse into Articles, decide when to look next."""
