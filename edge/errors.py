class SiamfaceError(Exception):
    """A problem the user can fix: the CLI prints it as one line and exits with status 2.

    The message names the file, the field and what was expected.
    """
