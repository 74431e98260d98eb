"""Run by fleet.py in a fleet's controller namespace:

    python3 fleet_probe.py TIMEOUT ADDRESS...

waits until every address accepts a TCP connection on port 22 or TIMEOUT seconds pass, prints
the addresses that never did, and exits 1 when there are any."""
import socket
import sys
import time


def main(argv):
    deadline = time.monotonic() + float(argv[0])
    pending = argv[1:]
    while pending and time.monotonic() < deadline:
        still = []
        for address in pending:
            s = socket.socket()
            s.settimeout(0.5)
            try:
                s.connect((address, 22))
            except OSError:
                still.append(address)
            finally:
                s.close()
        pending = still
        if pending:
            time.sleep(0.02)
    print(" ".join(pending))
    return 1 if pending else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
