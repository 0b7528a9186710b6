"""The domain: validation and the rules of threads and messages, free of transport."""
