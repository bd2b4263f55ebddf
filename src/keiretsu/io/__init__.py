"""Adapters at the edge: one module per format, each mapping onto the OCEL 2.0 model.

Every reader has the shape ``read(source, *, document=None, batch_size=...) -> Iterator[Ocel]``:
it streams the file in batches (bounded memory) and raises
:class:`keiretsu.model.DocumentError` on the first thing it cannot accept, naming the document,
the event index and the field. The store consumes the batches in one transaction, so a refused
document leaves nothing behind.
"""
