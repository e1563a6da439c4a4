"""Each template against its framework's floor: minimal apps doing the same work.

`python -m loadtest floors` runs them side by side; see loadtest/README.md.
"""
