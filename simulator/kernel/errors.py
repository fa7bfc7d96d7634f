"""Why a setup runs on the reference engine instead of the compiled kernel."""


class NotCompiled(Exception):
    """A run (regime, policy, strategy, allocator) the kernel does not cover; the message says which part."""
