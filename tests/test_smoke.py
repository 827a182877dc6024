from tests.conftest import login


def test_admin_signs_in_and_sees_dashboard(client):
    response = login(client)
    assert response.status_code == 302
    page = client.get("/").get_data(as_text=True)
    assert "admin@example.com" in page
    assert "Maintenance mode is off." in page


def test_dashboard_needs_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]


def test_healthz(client):
    assert client.get("/healthz").get_json() == {
        "status": "ok",
        "maintenance": False,
        "event_processor": "stopped",
    }
