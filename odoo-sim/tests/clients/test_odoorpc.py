"""Drive odoo-sim with the unmodified `odoorpc` client library (PyPI OdooRPC).

odoorpc logs in through /web/session/authenticate and then calls /web/dataset/call_kw
with the session cookie; db.* and common.* go through /jsonrpc.
Env: SIM_PORT, SIM_DB (a database in the demo catalogue state), SIM_MASTER.
"""
import os
import uuid

import odoorpc

PORT = int(os.environ["SIM_PORT"])
DB = os.environ["SIM_DB"]
MASTER = os.environ.get("SIM_MASTER", "admin")


def connect():
    return odoorpc.ODOO("127.0.0.1", protocol="jsonrpc", port=PORT)


def test_version_and_db_list():
    odoo = connect()
    assert odoo.version.startswith("18.0")
    assert DB in odoo.db.list()


def test_login_and_partners():
    odoo = connect()
    odoo.login(DB, "admin", "admin")
    assert odoo.env.uid == 2
    assert odoo.env.context["lang"] == "en_US"
    Partner = odoo.env["res.partner"]
    pid = Partner.create({"name": "odoorpc customer", "email": "c@example.com"})
    ids = Partner.search([("name", "ilike", "odoorpc")])
    assert ids == [pid]
    rec = Partner.browse(pid)
    assert rec.name == "odoorpc customer"
    rec.write({"city": "Brussels"})
    data = Partner.read([pid], ["name", "city", "email"])
    assert data[0]["city"] == "Brussels"
    assert data[0]["email"] == "c@example.com"
    admin = odoo.env["res.users"].browse(2)
    assert admin.partner_id.name == "Administrator"
    rows = odoo.execute_kw("res.partner", "search_read", [[("id", "=", pid)]], {"fields": ["city"]})
    assert rows == [{"id": pid, "city": "Brussels"}]


def test_pos_order_push_twice_creates_nothing_new():
    odoo = connect()
    odoo.login(DB, "admin", "admin")
    odoo.execute_kw("pos.config", "open_ui", [[1]])
    cfg = odoo.execute_kw("pos.config", "read", [[1], ["current_session_id", "current_session_state"]])
    sid = cfg[0]["current_session_id"][0]
    if cfg[0]["current_session_state"] == "opening_control":
        odoo.execute_kw("pos.session", "set_opening_control", [[sid], 0, ""])
    order = {
        "uuid": str(uuid.uuid4()),
        "session_id": sid,
        "lines": [[0, 0, {"product_id": 2, "qty": 1, "price_unit": 2.5, "price_subtotal": 2.5,
                          "price_subtotal_incl": 2.88, "tax_ids": [[6, 0, [1]]]}]],
        "payment_ids": [[0, 0, {"payment_method_id": 2, "amount": 2.88}]],
        "amount_total": 2.88, "amount_paid": 2.88, "amount_tax": 0.38, "amount_return": 0.0,
    }
    PosOrder = odoo.env["pos.order"]
    before = PosOrder.search_count([])
    res = odoo.execute_kw("pos.order", "sync_from_ui", [[order]])
    assert sorted(res) == ["pos.order", "pos.order.line", "pos.pack.operation.lot",
                           "pos.payment", "pos.session", "product.attribute.custom.value"]
    assert res["pos.order"][0]["uuid"] == order["uuid"]
    assert res["pos.order"][0]["state"] == "paid"
    assert res["pos.order"][0]["name"].startswith("Shop/")
    again = odoo.execute_kw("pos.order", "sync_from_ui", [[order]])
    assert again == res
    assert PosOrder.search_count([("uuid", "=", order["uuid"])]) == 1
    assert PosOrder.search_count([]) == before + 1


def test_bad_login():
    odoo = connect()
    try:
        odoo.login(DB, "admin", "WRONG")
    except odoorpc.error.RPCError as exc:
        assert "Access Denied" in str(exc) or "Wrong login" in str(exc)
    else:
        raise AssertionError("login should fail")


def test_server_errors_surface_as_rpc_errors():
    odoo = connect()
    odoo.login(DB, "admin", "admin")
    try:
        odoo.execute_kw("res.partner", "no_such_method", [[]])
    except odoorpc.error.RPCError as exc:
        assert exc.info["data"]["name"] == "builtins.AttributeError"
        assert "no_such_method" in exc.info["data"]["message"]
    else:
        raise AssertionError("unknown method should fail")
    try:
        odoo.db.create(MASTER + "-wrong", "sim_client_never")
    except odoorpc.error.RPCError as exc:
        assert exc.info["data"]["name"] == "odoo.exceptions.AccessDenied"
    else:
        raise AssertionError("wrong master password should fail")


if __name__ == "__main__":
    for name, fn in list(globals().items()):
        if name.startswith("test_") and callable(fn):
            fn()
            print("ok", name)
