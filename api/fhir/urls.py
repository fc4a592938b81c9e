"""FHIR R4 facade (``/fhir/r4/``)."""

app_name = "fhir"

urlpatterns: list = []
