import consent.admin_privacy  # noqa: F401 - registers the privacy requests admin
