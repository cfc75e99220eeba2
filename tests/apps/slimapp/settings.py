"""A setting that the module assembling ``slimapp.configured:app`` changes as it runs."""

MODE = "default"
