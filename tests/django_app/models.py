"""The test project's user model: the email is the accessgraph identity, so it is
unique whatever its case (``USER_FIELD = "email"``, the default, passes the checks)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower


class Account(AbstractUser):
    email = models.EmailField(unique=True)

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="account_email_ci")]
