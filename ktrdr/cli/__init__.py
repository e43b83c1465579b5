"""The typer command line (`ktrdr …`); heavy imports happen inside the commands that need them."""
