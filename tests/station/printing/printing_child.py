"""Child process for the SIGKILL test: works a database's print queue against a TCP printer until killed.

python printing_child.py DB_PATH PRINTER_URL
"""

import sys
import time
from pathlib import Path

from drivers import printers
from station.printing import PrintingSettings, PrintWorker
from station.store import Store


def main() -> None:
    store = Store.open(Path(sys.argv[1]))
    printer = printers.open_printer(sys.argv[2], timeout_s=5.0, print_timeout_s=20.0, poll_interval_s=0.05)
    worker = PrintWorker(store, PrintingSettings(auto_print=False, cjk="ci28"), printer, printers)
    print("ready", flush=True)
    worker.run_until_idle()
    print("idle", flush=True)  # the test kills us before this, while the job is being sent
    time.sleep(60)


if __name__ == "__main__":
    main()
