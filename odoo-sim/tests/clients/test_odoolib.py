"""Drive odoo-sim with the unmodified `odoo-client-lib` (Odoo SA's `odoolib`) over JSON-RPC.

odoolib's "jsonrpc" protocol posts `{"service", "method", "args"}` to `/jsonrpc` (httpx).
Env: SIM_PORT, SIM_DB (a database in the demo catalogue state), SIM_MASTER.
"""
import os
import uuid

import odoolib
from odoolib.tools import AuthenticationError, JsonRPCException

PORT = int(os.environ["SIM_PORT"])
DB = os.environ["SIM_DB"]
MASTER = os.environ.get("SIM_MASTER", "admin")


def connect(password="admin"):
    return odoolib.get_connection(hostname="127.0.0.1", protocol="jsonrpc", port=PORT,
                                  database=DB, login="admin", password=password)


def test_odoolib_services():
    conn = connect()
    common = conn.get_service("common")
    assert common.version()["server_version_info"][0] == 18
    db = conn.get_service("db")
    assert DB in db.list()
    assert db.db_exist(DB) is True
    assert db.server_version().startswith("18.0")


def test_odoolib_login_and_partners():
    conn = connect()
    conn.check_login()
    assert conn.user_id == 2
    assert conn.get_user_context()["lang"] == "en_US"
    partner = conn.get_model("res.partner")
    pid = partner.create({"name": "odoolib customer", "email": "l@example.com"})
    assert isinstance(pid, int)
    rows = partner.search_read([("name", "=", "odoolib customer")], ["name", "email"])
    assert [r["id"] for r in rows] == [pid]
    assert rows[0]["email"] == "l@example.com"
    assert partner.write([pid], {"city": "Ghent"}) is True
    rec = partner.read(pid, ["city"])
    assert rec["city"] == "Ghent"
    assert partner.search_count([("city", "=", "Ghent")]) == 1
    assert partner.unlink([pid]) is True
    assert partner.search_count([("id", "=", pid)]) == 0


def test_odoolib_pos_push_twice_creates_one_order():
    conn = connect()
    config = conn.get_model("pos.config")
    config.open_ui([1])
    sid = config.read([1], ["current_session_id"])[0]["current_session_id"][0]
    session = conn.get_model("pos.session")
    if session.read([sid], ["state"])[0]["state"] == "opening_control":
        session.set_opening_control([sid], 0, "")
    order = {
        "uuid": str(uuid.uuid4()),
        "session_id": sid,
        "lines": [[0, 0, {"product_id": 3, "qty": 2, "price_unit": 1.8, "price_subtotal": 3.6,
                          "price_subtotal_incl": 4.14, "tax_ids": [[6, 0, [1]]]}]],
        "payment_ids": [[0, 0, {"payment_method_id": 2, "amount": 4.14}]],
        "amount_total": 4.14, "amount_paid": 4.14, "amount_tax": 0.54, "amount_return": 0.0,
    }
    orders = conn.get_model("pos.order")
    first = orders.sync_from_ui([order])
    assert first["pos.order"][0]["uuid"] == order["uuid"]
    assert first["pos.order"][0]["state"] == "paid"
    second = orders.sync_from_ui([order])
    assert second == first
    assert orders.search_count([("uuid", "=", order["uuid"])]) == 1


def test_odoolib_errors():
    try:
        connect(password="WRONG").check_login()
    except AuthenticationError:
        pass
    else:
        raise AssertionError("login should fail")
    conn = connect()
    try:
        conn.get_model("no.such.model").search([])
    except JsonRPCException as exc:
        assert exc.error["code"] == 200
        assert exc.error["data"]["name"] == "odoo.exceptions.UserError"
        assert exc.error["data"]["message"] == "Object no.such.model doesn't exist"
    else:
        raise AssertionError("unknown model should fail")
    try:
        conn.get_service("db").create_database("WRONG", "sim_client_never", False, "en_US")
    except JsonRPCException as exc:
        assert exc.error["data"]["name"] == "odoo.exceptions.AccessDenied"
    else:
        raise AssertionError("wrong master password should fail")


if __name__ == "__main__":
    for name, fn in list(globals().items()):
        if name.startswith("test_") and callable(fn):
            fn()
            print("ok", name)
