"""`python -m logsieve`: score a log with the component in this package (see `_host.main`)."""
from ._host import main

main()
