"""Several instances on one PostgreSQL: who owns the AMI connection."""
