"""Dense retrieval: text encoders, FAISS vector indexes, and versioned index builds on disk.

`encoder` turns texts into normalised vectors, `vectors` searches them by cosine, and `store` writes one
stamped build per model and database state and switches readers to it atomically (docs/retrieval.md).
Lexical retrieval and fusion live with the database, not here.
"""
