"""Serve a folder over HTTP on 127.0.0.1 (or ADDRESS) for the demo and the test lab, on a port
the OS picks.

    serve_tree.py FOLDER PORT_FILE [ADDRESS]

The port is bound before anything is written, then written to PORT_FILE (a temporary file
renamed into place, so a reader never sees half a number).  Nothing depends on how stdout
is buffered: the request log goes to stderr, which Python writes line by line.
"""
import functools
import http.server
import os
import sys


def main():
    folder, port_file = sys.argv[1], sys.argv[2]
    address = sys.argv[3] if len(sys.argv) > 3 else "127.0.0.1"
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=folder)
    server = http.server.ThreadingHTTPServer((address, 0), handler)
    partial_file = port_file + ".partial"
    with open(partial_file, "w") as handle:
        handle.write("%d\n" % server.server_address[1])
    os.replace(partial_file, port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
