"""IAM sufficiency: every AWS call the functions make, checked against template.yaml's policies (docs/IAM.md)."""
