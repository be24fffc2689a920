"""An SMTP server for the end-to-end tests of email alerts: aiosmtpd on 127.0.0.1 with STARTTLS
required before AUTH (PLAIN or LOGIN, one user), each accepted message appended as one JSON line
to a file. It never prints a password. Stopped by the test (SIGTERM).

    python3 tests/smtp/server.py PORT CERT KEY USER PASSWORD_FILE OUT_FILE
"""
import json
import signal
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def main():
    port, cert, key, user, password_file, out = sys.argv[1:7]
    with open(password_file, encoding="utf-8") as f:
        password = f.read().strip()

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            with open(out, "a", encoding="utf-8") as f:
                f.write(json.dumps({
                    "from": envelope.mail_from,
                    "to": envelope.rcpt_tos,
                    "tls": session.ssl is not None,
                    "data": envelope.content.decode("utf-8", "replace"),
                }) + "\n")
            return "250 Message accepted"

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login.decode() == user
              and auth_data.password.decode() == password)
        if not ok:
            print(f"smtp: authentication failed for {mechanism}", file=sys.stderr, flush=True)
        return AuthResult(success=ok, handled=False)

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    controller = Controller(
        Handler(), hostname="127.0.0.1", port=int(port), tls_context=context, require_starttls=True,
        authenticator=authenticate, auth_require_tls=True,
    )
    controller.start()
    print("ready", flush=True)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    while not stop:
        time.sleep(0.1)
    controller.stop()


if __name__ == "__main__":
    main()
