"""{{ cookiecutter.description | wordwrap(94) }}"""
