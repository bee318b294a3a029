"""One module per section of the brief: build(fs) -> Section | None, highlights(fs) -> [Highlight]."""
