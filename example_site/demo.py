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
        # "source": the period is the newsletter's own, as its table says.
        {"label": {"nl": "Verzenden van onze nieuwsbrief", "en": "Sending our newsletter"},
         "category": "default", "source": "Subscriber"},
        {"label": {"nl": "U bellen of e-mailen als dat nodig is voor onze dienstverlening",
                   "en": "Calling or e-mailing you when our services need it"},
         "category": "default"},
        {"label": {"nl": "U informeren over wijzigingen van onze diensten en producten",
                   "en": "Informing you about changes to our services and products"},
         "category": "default"},
        {"label": {"nl": "Contact met u opnemen over een vraag of een offerte",
                   "en": "Contacting you about a question or a quote"},
         "category": "default", "source": "ContactMessage"},
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
        "service_details": [
            "Een snelle, toegankelijke website die op elke telefoon goed werkt.",
            "Verkopen via uw eigen site, met betalingen via PayPal en nette facturen.",
            "Wij houden uw site veilig en bij de tijd, bij een hostingpartner in Nederland.",
            "Contact- en offerteformulieren en een nieuwsbrief met dubbele bevestiging.",
        ],
        "quote": "Vraag een offerte aan",
        "quote_intro": "Vertel ons wat u nodig heeft: u krijgt binnen een paar werkdagen een "
                       "offerte op maat.",
        "privacy_title": "Uw privacy",
        "privacy_text": "Webence hecht groot belang aan uw privacy. Wij verwerken uitsluitend "
                        "gegevens die wij nodig hebben voor onze dienstverlening, en stellen uw "
                        "gegevens nooit voor commerciële doeleinden ter beschikking aan derden.",
        "rights_text": "Uw gegevens inzien, aanpassen of laten verwijderen? Dat regelt u zelf "
                       "via een link in uw mail; wij reageren binnen vier weken.",
        "newsletter_text": "Op de hoogte blijven van wijzigingen in onze diensten? Schrijf u in "
                           "voor de nieuwsbrief.",
        "questions": "Vragen? Mail ons op",
        "menu": "Hoofdmenu",
        "footer": "Footer",
        "not_found_title": "Pagina niet gevonden",
        "not_found_text": "Deze pagina bestaat niet (meer). Misschien helpt een van deze links:",
        "error_title": "Er ging iets mis",
        "error_text": "Door een fout aan onze kant lukte dit niet. Probeer het over een paar "
                      "minuten opnieuw; blijft het misgaan, mail ons dan.",
        "mail_title": "Verstuurde mail (debug)",
        "mail_intro": "De mail die de site heeft verstuurd, nieuwste eerst, uit de outbox-tabel. "
                      "De links werken zoals in een echte mailbox.",
        "mail_none": "Nog geen mail.",
        "mail_to": "Aan",
        "mail_status": "Status",
        "mail_links": "Links in deze mail",
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
        "service_details": [
            "A fast, accessible website that works well on every phone.",
            "Selling through your own site, with PayPal payments and proper invoices.",
            "We keep your site secure and up to date, with a hosting partner in the Netherlands.",
            "Contact and quote forms, and a newsletter with double opt-in.",
        ],
        "quote": "Request a quote",
        "quote_intro": "Tell us what you need: you receive a quote made to measure within a few "
                       "working days.",
        "privacy_title": "Your privacy",
        "privacy_text": "Webence cares about your privacy. We process only the data we need for "
                        "our services, and we never make your data available to others for "
                        "commercial purposes.",
        "rights_text": "See, correct or erase your data? You do it yourself through a link in "
                       "your mail; we answer within four weeks.",
        "newsletter_text": "Stay informed about changes to our services? Sign up for the "
                           "newsletter.",
        "questions": "Questions? Write to",
        "menu": "Main menu",
        "footer": "Footer",
        "not_found_title": "Page not found",
        "not_found_text": "This page does not exist (any more). One of these links may help:",
        "error_title": "Something went wrong",
        "error_text": "An error on our side stopped this. Please try again in a few minutes; "
                      "if it keeps failing, write to us.",
        "mail_title": "Mail sent (debug)",
        "mail_intro": "The mail this site sent, newest first, from the outbox table. The links "
                      "work as in a real mailbox.",
        "mail_none": "No mail yet.",
        "mail_to": "To",
        "mail_status": "Status",
        "mail_links": "Links in this mail",
        "cookies": "Cookie settings",
    },
}


def text(language: str) -> dict:
    return TEXT.get(language, TEXT["nl"])
