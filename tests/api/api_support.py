"""What the partner API's tests share: the patients endpoint, a valid new
patient's body, and the problem+json shape every error answers with."""

PATIENTS = "/api/v1/patients/"


def new_patient(identifier="EHR-1", **fields):
    return {
        "identifier": identifier,
        "given_name": "Jeanne",
        "family_name": "Martin",
        "birth_date": "1980-02-03",
        "email": "jeanne@example.org",
        "phone": "+33612345678",
        **fields,
    }


def assert_problem(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    assert body["type"].startswith("https://")
    return body
