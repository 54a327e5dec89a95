"""Code partners run against the Tanhui partner API: the SDK and traffic simulators."""
