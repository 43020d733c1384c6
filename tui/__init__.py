"""The Textual review app (issue 6). It talks to curate.workspace only and writes no SQL of its own."""
