"""The training bridge (issue 8): plan and run LoRA/QLoRA on an export. Imported lazily by the CLI."""
