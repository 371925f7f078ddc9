"""What the Sellers API says about each marketplace: name, currency, language and domain."""

from __future__ import annotations

from dataclasses import dataclass

from soldscope_cli.amazon.marketplaces import BY_CODE, BY_ID


@dataclass(frozen=True)
class MarketInfo:
    """The `marketplace` object of a marketplace participation (models/sellers.json)."""

    marketplace_id: str
    name: str
    country_code: str
    currency: str
    language: str
    domain: str

    def as_json(self) -> dict[str, str]:
        """The Sellers API `Marketplace` object."""
        return {
            "id": self.marketplace_id,
            "name": self.name,
            "countryCode": self.country_code,
            "defaultCurrencyCode": self.currency,
            "defaultLanguageCode": self.language,
            "domainName": self.domain,
        }


# code: (currency, language, domain)
_DETAILS: dict[str, tuple[str, str, str]] = {
    "US": ("USD", "en_US", "www.amazon.com"),
    "CA": ("CAD", "en_CA", "www.amazon.ca"),
    "MX": ("MXN", "es_MX", "www.amazon.com.mx"),
    "BR": ("BRL", "pt_BR", "www.amazon.com.br"),
    "IE": ("EUR", "en_IE", "www.amazon.ie"),
    "ES": ("EUR", "es_ES", "www.amazon.es"),
    "UK": ("GBP", "en_GB", "www.amazon.co.uk"),
    "FR": ("EUR", "fr_FR", "www.amazon.fr"),
    "BE": ("EUR", "fr_BE", "www.amazon.com.be"),
    "NL": ("EUR", "nl_NL", "www.amazon.nl"),
    "DE": ("EUR", "de_DE", "www.amazon.de"),
    "IT": ("EUR", "it_IT", "www.amazon.it"),
    "SE": ("SEK", "sv_SE", "www.amazon.se"),
    "ZA": ("ZAR", "en_ZA", "www.amazon.co.za"),
    "PL": ("PLN", "pl_PL", "www.amazon.pl"),
    "EG": ("EGP", "ar_EG", "www.amazon.eg"),
    "TR": ("TRY", "tr_TR", "www.amazon.com.tr"),
    "SA": ("SAR", "ar_SA", "www.amazon.sa"),
    "AE": ("AED", "en_AE", "www.amazon.ae"),
    "IN": ("INR", "en_IN", "www.amazon.in"),
    "SG": ("SGD", "en_SG", "www.amazon.sg"),
    "AU": ("AUD", "en_AU", "www.amazon.com.au"),
    "JP": ("JPY", "ja_JP", "www.amazon.co.jp"),
}


def _amazon(code: str) -> MarketInfo:
    market = BY_CODE[code]
    currency, language, domain = _DETAILS[code]
    name = "Amazon." + domain.removeprefix("www.amazon.")
    return MarketInfo(
        market.marketplace_id, name, market.api_country_code, currency, language, domain
    )


MARKET_INFO: dict[str, MarketInfo] = {
    BY_CODE[code].marketplace_id: _amazon(code) for code in _DETAILS
}

# Marketplace ids the Sellers API returns that are not Amazon retail sites (FACTS §6); a scenario can
# add them to a seller's participations so clients prove they ignore unknown ids.
NON_AMAZON: dict[str, MarketInfo] = {
    "A2ZV50J4W1RKNI": MarketInfo(
        "A2ZV50J4W1RKNI", "Non-Amazon", "US", "USD", "en_US", "sim1.stores.amazon.com"
    ),
    "A1MQXOICRS2Z7M": MarketInfo(
        "A1MQXOICRS2Z7M",
        "SI CA Prod Marketplace",
        "CA",
        "CAD",
        "en_CA",
        "siprodca.stores.amazon.ca",
    ),
    "A62U237T8HV6N": MarketInfo(
        "A62U237T8HV6N", "Non-Amazon", "ES", "EUR", "es_ES", "sim1.stores.amazon.es"
    ),
}


def info(marketplace_id: str) -> MarketInfo:
    """Marketplace details for an Amazon or a known non-Amazon marketplace id."""
    if marketplace_id in MARKET_INFO:
        return MARKET_INFO[marketplace_id]
    if marketplace_id in NON_AMAZON:
        return NON_AMAZON[marketplace_id]
    # Scenarios may name any undocumented id; describe it the way Amazon describes its own extras.
    return MarketInfo(marketplace_id, "Non-Amazon", "US", "USD", "en_US", "sim.stores.amazon.com")


def is_amazon(marketplace_id: str) -> bool:
    """Whether the id is one of Amazon's documented retail marketplaces."""
    return marketplace_id in BY_ID
