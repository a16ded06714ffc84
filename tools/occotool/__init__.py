"""occotool: lays out, tests, packages and releases OCCO's packages.

Standard library only: it runs before any virtualenv exists. Third-party programs it
drives (uv, pip, twine, pypiserver) live in env/tools, which it creates itself from
tools/requirements.txt.
"""
