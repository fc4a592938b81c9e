class ConsentError(ValueError):
    """A consent question or change that cannot be answered as asked.

    The message names what is wrong (unknown topic, another organization's
    patient…) and never contains health data.
    """
