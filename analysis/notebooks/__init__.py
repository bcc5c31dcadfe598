"""The study notebooks and the script that writes them (``build_notebooks.py``)."""
