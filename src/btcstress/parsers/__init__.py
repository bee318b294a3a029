"""Sources: one module per origin or format. parse(text, origin) -> Parsed (pure, fixture-tested);
fetch(...) where the origin is online. snapshot.py maps the files of a snapshot folder to parsers."""
