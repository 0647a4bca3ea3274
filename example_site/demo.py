"""Demo content: the seed policy's categories, purposes, periods and contact."""

from __future__ import annotations

PRIVACY_CONFIG = {
    "PRIVACY_CONTROLLER_NAME": "Webence",
    "PRIVACY_CONTACT_EMAIL": "info@webence.nl",
    "PRIVACY_BASE_TEMPLATE": "layout.html",
    "PRIVACY_POLICY_VERSIONS": [
        {"version": "2018-05-12", "effective": "2018-05-12"},
    ],
    "PRIVACY_POLICY_INTRO": {
        "nl": "Webence hecht groot belang aan uw privacy. Dit privacybeleid is van toepassing "
              "op het gebruik van de website en de daarop ontsloten dienstverlening van Webence.",
        "en": "Webence cares about your privacy. This policy applies to the use of the website "
              "and the services Webence offers through it.",
    },
    "PRIVACY_RETENTION": {
        "default": {"years": 1},
        "customer": {"years": 7, "erasable": False},
    },
    "PRIVACY_DATA_CATEGORIES": [
        {"nl": "Voor- en achternaam", "en": "First and last name"},
        {"nl": "Geslacht", "en": "Gender"},
        {"nl": "Adresgegevens", "en": "Address"},
        {"nl": "Telefoonnummer", "en": "Phone number"},
        {"nl": "E-mailadres", "en": "E-mail address"},
        {"nl": "IP-adres", "en": "IP address"},
        {"nl": "Overige persoonsgegevens die u actief verstrekt, bijvoorbeeld in correspondentie "
               "en telefonisch",
         "en": "Other personal data you give us, for example in correspondence and by phone"},
        {"nl": "Gegevens over uw activiteiten op onze website",
         "en": "Data about your activity on our website"},
        {"nl": "Internetbrowser en apparaattype", "en": "Internet browser and device type"},
        {"nl": "Bankrekeningnummer", "en": "Bank account number"},
        {"nl": "PayPal-betaalgegevens", "en": "PayPal payment details"},
    ],
    "PRIVACY_PURPOSES": [
        {"label": {"nl": "Klantenadministratie en de uitvoering van onze overeenkomst",
                   "en": "Customer administration and carrying out our agreement"},
         "category": "customer"},
        {"label": {"nl": "Het afhandelen van uw betaling en het factureren van diensten",
                   "en": "Handling your payment and invoicing our services"},
         "category": "customer"},
        {"label": {"nl": "Verzenden van onze nieuwsbrief", "en": "Sending our newsletter"},
         "category": "default"},
        {"label": {"nl": "U bellen of e-mailen als dat nodig is voor onze dienstverlening",
                   "en": "Calling or e-mailing you when our services need it"},
         "category": "default"},
        {"label": {"nl": "U informeren over wijzigingen van onze diensten en producten",
                   "en": "Informing you about changes to our services and products"},
         "category": "default"},
        {"label": {"nl": "Contact met u opnemen over een vraag of een offerte",
                   "en": "Contacting you about a question or a quote"},
         "category": "default"},
        {"label": {"nl": "Het optimaliseren van de website", "en": "Improving the website"},
         "category": "default"},
    ],
    "PRIVACY_PROCESSORS": [
        {"name": "Hostingpartner B.V.",
         "purpose": {"nl": "Hosting van de website en e-mail", "en": "Hosting the website and mail"},
         "location": {"nl": "Nederland", "en": "the Netherlands"},
         "agreement_date": "2018-05-01"},
        {"name": "PayPal (Europe) S.à r.l.",
         "purpose": {"nl": "Afhandelen van betalingen", "en": "Handling payments"},
         "location": {"nl": "Luxemburg", "en": "Luxembourg"},
         "agreement_date": "2018-05-01"},
    ],
    "PRIVACY_COOKIES": [
        {"name": "session", "type": "functional",
         "purpose": {"nl": "Beveiliging van formulieren (CSRF) en uw sessie",
                     "en": "Securing forms (CSRF) and your session"},
         "duration": {"nl": "tot u de browser sluit", "en": "until you close the browser"}},
        {"name": "privacy_lang", "type": "functional",
         "purpose": {"nl": "Onthoudt uw taalkeuze", "en": "Remembers your language"},
         "duration": {"nl": "1 jaar", "en": "1 year"}},
        {"name": "privacy_choice", "type": "functional",
         "purpose": {"nl": "Onthoudt uw cookiekeuze (een willekeurig nummer)",
                     "en": "Remembers your cookie choice (a random number)"},
         "duration": {"nl": "1 jaar", "en": "1 year"}},
        # Set only after the visitor says yes (see VISIT_COOKIE in __init__.py).
        {"name": "webence_visits", "type": "analytic",
         "purpose": {"nl": "Telt hoe vaak u de website bezoekt, om bezoeken te analyseren en "
                           "de website te verbeteren",
                     "en": "Counts how often you visit the website, to analyse visits and "
                           "improve the website"},
         "duration": {"nl": "1 jaar", "en": "1 year"}},
    ],
    # The general visit data the policy names (time, page, shortened IP, browser),
    # analysed at /privacy/admin/visits; it needs no cookie.
    "PRIVACY_VISIT_LOG": True,
    "PRIVACY_SECURITY_MEASURES": [
        {"nl": "Versleutelde verbinding (TLS) voor alle pagina's",
         "en": "Encrypted connections (TLS) for every page"},
        {"nl": "Beveiliging van formulieren tegen misbruik (CSRF, limieten per bezoeker)",
         "en": "Forms protected against misuse (CSRF, limits per visitor)"},
        {"nl": "IP-adressen worden ingekort voordat ze worden opgeslagen",
         "en": "IP addresses are shortened before they are stored"},
        {"nl": "Gegevens worden automatisch verwijderd na hun bewaartermijn",
         "en": "Data is deleted automatically after its retention period"},
    ],
}

TEXT = {
    "nl": {
        "tagline": "Websites en webapplicaties voor het MKB",
        "home": "Home",
        "services": "Diensten",
        "privacy": "Privacybeleid",
        "contact": "Contact",
        "newsletter": "Nieuwsbrief",
        "rights": "Uw gegevens",
        "intro": "Webence bouwt snelle, toegankelijke websites voor kleine bedrijven, "
                 "met privacy vanaf het begin ingebouwd.",
        "services_title": "Onze diensten",
        "services_intro": "Van een eenvoudige bedrijfswebsite tot een maatwerk webapplicatie.",
        "service_items": ["Bedrijfswebsites", "Webwinkels", "Onderhoud en hosting",
                          "AVG-proof formulieren en nieuwsbrieven"],
        "quote": "Vraag een offerte aan",
        "menu": "Hoofdmenu",
        "footer": "Footer",
        "cookies": "Cookie-instellingen",
    },
    "en": {
        "tagline": "Websites and web applications for small businesses",
        "home": "Home",
        "services": "Services",
        "privacy": "Privacy policy",
        "contact": "Contact",
        "newsletter": "Newsletter",
        "rights": "Your data",
        "intro": "Webence builds fast, accessible websites for small businesses, with privacy "
                 "built in from the start.",
        "services_title": "Our services",
        "services_intro": "From a simple company website to a custom web application.",
        "service_items": ["Company websites", "Web shops", "Maintenance and hosting",
                          "GDPR-ready forms and newsletters"],
        "quote": "Request a quote",
        "menu": "Main menu",
        "footer": "Footer",
        "cookies": "Cookie settings",
    },
}


def text(language: str) -> dict:
    return TEXT.get(language, TEXT["nl"])
