from __future__ import annotations

import datetime as dt

import factory

from commitments.models import Agreement, Commitment, Milestone, MilestonePart, Party


class PartyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Party
        django_get_or_create = ["code"]

    code = "US"
    name = "United States"


class AgreementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agreement

    slug = factory.Sequence(lambda n: f"agreement-{n}")
    title = factory.Sequence(lambda n: f"Agreement {n}")
    short_name = factory.Sequence(lambda n: f"A{n}")
    signed_on = dt.date(2025, 10, 28)
    time_zone = "Asia/Tokyo"


class CommitmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Commitment

    agreement = factory.SubFactory(AgreementFactory)
    key = factory.Sequence(lambda n: f"commitment-{n}")
    title = factory.Sequence(lambda n: f"Commitment {n}")
    category = "investment"


class MilestoneFactory(factory.django.DjangoModelFactory):
    """A milestone whose due date is computed from its rule, as the services do."""

    class Meta:
        model = Milestone
        skip_postgeneration_save = True

    commitment = factory.SubFactory(CommitmentFactory)
    key = factory.Sequence(lambda n: f"milestone-{n}")
    title = factory.Sequence(lambda n: f"Milestone {n}")
    rule_kind = "days_after"
    rule_amount = 180

    @factory.post_generation
    def compute_deadline(obj: Milestone, create: bool, extracted: object, **kwargs: object):
        if create:
            from commitments.services import refresh_deadlines

            refresh_deadlines(obj.commitment.agreement)
            obj.refresh_from_db()


def add_parts(milestone: Milestone, *codes: str) -> list[MilestonePart]:
    return [
        MilestonePart.objects.create(milestone=milestone, party=PartyFactory(code=c, name=c))
        for c in codes
    ]
