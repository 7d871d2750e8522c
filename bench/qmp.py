"""A minimal QMP client for the bench scripts: connect (retrying every 10 ms for 30 s while the
VMM starts), read the greeting, negotiate capabilities, then one command at a time, skipping
events until its reply."""
import json, socket, time


class Qmp:
    def __init__(self, path):
        for _ in range(3000):
            try:
                self.s = socket.socket(socket.AF_UNIX)
                self.s.connect(path)
                break
            except OSError:
                self.s.close()
                time.sleep(0.01)
        else:
            raise OSError(f"QMP socket {path} never answered")
        self.f = self.s.makefile("rb")
        self.f.readline()
        self.cmd("qmp_capabilities")

    def cmd(self, execute, /, **args):
        # positional-only: a command's own arguments may be called "name" (vm-create, qom-get)
        self.s.sendall(json.dumps({"execute": execute, "arguments": args}).encode() + b"\n")
        while True:
            r = json.loads(self.f.readline())
            if "return" in r or "error" in r:
                return r
