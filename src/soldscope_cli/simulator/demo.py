"""The built-in demo scenario: one app and seven sellers across NA, EU and FE."""

from __future__ import annotations

from soldscope_cli.simulator.scenario import (
    AppSettings,
    Scenario,
    SellerSettings,
)

DEMO_APPLICATION_ID = "amzn1.sp.solution.5f1c0a2e-de00-4000-8000-0000000de000"
DEMO_CLIENT_ID = "amzn1.application-oa2-client.demo0000000000000000000000000001"
DEMO_CLIENT_SECRET = "amzn1.oa2-cs.v1.demo-simulator-secret"


def demo_scenario() -> Scenario:
    """Seven sellers with a few marketplaces each; one lacks Brand Analytics, one has a non-Amazon id."""
    return Scenario(
        app=AppSettings(
            application_id=DEMO_APPLICATION_ID,
            client_id=DEMO_CLIENT_ID,
            client_secret=DEMO_CLIENT_SECRET,
            redirect_uris=["https://agency.example/soldscope/callback"],
            draft=False,
            accept_any_loopback_redirect=True,
        ),
        sellers=[
            SellerSettings(
                selling_partner_id="A1DEMONA0ACME1",
                region="na",
                marketplaces=["US", "CA", "MX"],
                store_name="Acme Outdoor",
                extra_marketplace_ids=["A2ZV50J4W1RKNI"],
            ),
            SellerSettings(
                selling_partner_id="A2DEMONA0BOLT2",
                region="na",
                marketplaces=["US"],
                store_name="Bolt Kitchen",
                roles=["sellers", "inventory", "finances"],
            ),
            SellerSettings(
                selling_partner_id="A3DEMOEU0CRAB3",
                region="eu",
                marketplaces=["UK", "DE", "FR", "IT", "ES"],
                store_name="Crab & Co",
                # Two pages per marketplace at getInventorySummaries' 2 a second: the tour shows
                # Amazon's quota at work without waiting on it for long.
                inventory_items=100,
                # A newer settlement account: with five marketplaces' Brand Analytics weeks, its
                # first sync stays within getReportDocument's burst of 15.
                settlement_days=30,
            ),
            SellerSettings(
                selling_partner_id="A4DEMOEU0DUNE4",
                region="eu",
                marketplaces=["DE", "NL", "PL"],
                store_name="Dune Living",
            ),
            SellerSettings(
                selling_partner_id="A5DEMOFE0EMBR5",
                region="fe",
                marketplaces=["JP"],
                store_name="Ember Tea",
            ),
            SellerSettings(
                selling_partner_id="A6DEMOFE0FERN6",
                region="fe",
                marketplaces=["AU", "SG"],
                store_name="Fern Garden",
                roles=["sellers", "inventory", "finances", "brand_analytics"],
            ),
            SellerSettings(  # connected through an invitation link, as a client would
                selling_partner_id="A7DEMONA0GALE7",
                region="na",
                marketplaces=["US"],
                store_name="Gale Supply",
            ),
        ],
    )
