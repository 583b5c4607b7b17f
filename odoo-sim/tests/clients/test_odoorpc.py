"""Drive odoo-sim with the unmodified `odoorpc` client library.

Env: SIM_PORT, SIM_DB (a database in the demo catalogue state).
"""
import os
import uuid

import odoorpc

PORT = int(os.environ["SIM_PORT"])
DB = os.environ["SIM_DB"]


def connect():
    odoo = odoorpc.ODOO("127.0.0.1", protocol="jsonrpc", port=PORT)
    return odoo


def test_db_list():
    odoo = connect()
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


def test_pos_order_push():
    odoo = connect()
    odoo.login(DB, "admin", "admin")
    odoo.execute_kw("pos.config", "open_ui", [[1]])
    cfg = odoo.execute_kw("pos.config", "read", [[1], ["current_session_id"]])
    sid = cfg[0]["current_session_id"][0]
    odoo.execute_kw("pos.session", "set_opening_control", [[sid], 0, ""])
    order = {
        "uuid": str(uuid.uuid4()),
        "session_id": sid,
        "lines": [[0, 0, {"product_id": 2, "qty": 1, "price_unit": 2.5, "price_subtotal": 2.5,
                          "price_subtotal_incl": 2.88, "tax_ids": [[6, 0, [1]]]}]],
        "payment_ids": [[0, 0, {"payment_method_id": 2, "amount": 2.88}]],
        "amount_total": 2.88, "amount_paid": 2.88, "amount_tax": 0.38, "amount_return": 0.0,
    }
    res = odoo.execute_kw("pos.order", "sync_from_ui", [[order]])
    assert res["pos.order"][0]["state"] == "paid"
    assert res["pos.order"][0]["name"] == "Shop/0001"
    again = odoo.execute_kw("pos.order", "sync_from_ui", [[order]])
    assert again == res
    assert odoo.env["pos.order"].search_count([("uuid", "=", order["uuid"])]) == 1


def test_bad_login():
    odoo = connect()
    try:
        odoo.login(DB, "admin", "WRONG")
    except odoorpc.error.RPCError as exc:
        # odoorpc reports a failed authenticate as its own message
        assert "Access Denied" in str(exc) or "Wrong login" in str(exc)
    else:
        raise AssertionError("login should fail")


if __name__ == "__main__":
    for name, fn in list(globals().items()):
        if name.startswith("test_") and callable(fn):
            fn()
            print("ok", name)
