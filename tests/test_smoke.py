from __future__ import annotations


def test_it_records_a_ping(app, make_check, service):
    check = make_check()
    res = app.get(f"/ping/{check.uuid}")
    assert res.status_int == 200
    assert res.text == "OK"
    assert service.find_check(check.uuid).n_pings == 1
