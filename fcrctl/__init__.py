"""fcrctl: administer Fedora Commons / LDP repositories from the shell."""

__version__ = "0.1.0"
