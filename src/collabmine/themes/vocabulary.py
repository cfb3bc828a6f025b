"""The codebook's vocabulary, as the themes stage uses it: words of each category's named
factors (kept in theme keywords even when frequent), seed topics for guided topic modelling, and
words too generic to name a theme.

(Up to tagger v5 these patterns were also tagging rules; the fine-tuned tagger of v6 learns from
coded sentences instead, and the rules did not add to it — see the tagging package.)
"""

from __future__ import annotations

PATTERNS: dict[str, list[tuple[str, str]]] = {
    "structure": [
        ("form of partnership", r"\b(?:federat(?:ion|ions|ed)|multi-academy trusts?|academy (?:chains?|trusts?)|"
                                r"\bmats?\b|teaching school alliances?|learning alliances?|umbrella trusts?|"
                                r"consorti(?:um|a)|clusters?\b|networks?\b|networked learning communit(?:y|ies)|"
                                r"education action zones?|\beaz\b|\bzone\b|collaboratives?\b|hard partnerships?|"
                                r"soft partnerships?|transition partnerships?|feeder|sponsor(?:ed|s)? academ)"),
        ("national initiative", r"\b(?:excellence in cities|leadership incentive grant|london challenge|city challenges?|"
                                r"beacon schools?|specialist schools?|federations programme|teaching schools?)\b"),
        ("governance and leadership", r"\b(?:executive head(?:teacher|ship)?s?|governing bod(?:y|ies)|shared governance|"
                                      r"steering group|management board|\bboard\b|chair(?:ed|s)?\b|coordinators?|"
                                      r"memorand(?:um|a) of understanding|lead school|hub|constitution|"
                                      r"seconded|consultant head)"),
        ("membership and scale", r"\b(?:\d+|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|all)\s+(?:\w+\s+){0,2}?"
                                 r"(?:schools|primar(?:y|ies)|secondar(?:y|ies)|heads|headteachers|members|partners)\b|"
                                 r"cross-phase|single-phase|geographic"),
        ("working mechanism", r"\b(?:joint (?:cpd|inset|training|provision|practice development|observations?|"
                              r"planning|committee)|shared (?:staff|provision|resources|posts?)|working groups?|"
                              r"panels?|forums?|peer review|sub-groups?|networking meetings?)\b"),
    ],
    "impact": [
        ("improvement reported", r"\b(?:rais(?:ed|ing)|improv(?:ed|ement|ements)|increas(?:ed|e)|reduc(?:ed|tion)|"
                                 r"ris(?:en|e)|rose|enhanc(?:ed|ement)|widen(?:ed|s)|strengthen(?:ed)|boost(?:ed)?|"
                                 r"better)\b"),
        ("outcome", r"\b(?:attainment|achievement|results?|gcses?|exclusions?|attendance|progression|standards|"
                    r"morale|confidence|outcomes?|performance|ofsted|well-being|inclusion|career)\b"),
        ("effect of collaboration", r"\b(?:impact(?:ed|s)?|benefit(?:ed|s|ted)?|led to|resulted in|effects? (?:on|of)|"
                                    r"gains?|gained|has (?:had|helped|enabled|allowed|provided)|have (?:had|helped|enabled)|"
                                    r"success(?:es)?|achieved)\b"),
        ("null or uncertain finding", r"\b(?:no (?:association|evidence|impact|significant)|limited evidence|"
                                      r"too early|mixed (?:picture|evidence))\b"),
    ],
    "condition": [
        ("enabling factor", r"\b(?:trust(?:ing|ed)?|mutual (?:respect|benefit|support)|shared (?:vision|values|goals|"
                            r"aims|purpose|ownership)|moral purpose|commitment|committed|ownership|relationships?|"
                            r"clear (?:roles|aims|structures?|objectives|communication|focus)|communication|"
                            r"facilitat(?:e|ed|ion|or)|brokerage|brokered|incentives?|dedicated (?:time|funding)|"
                            r"start(?:ing)? small|quick win|bottom-up|transparen(?:t|cy)|evaluation|monitoring)\b"),
        ("presented as necessary", r"\b(?:key (?:to|factor|element|role)|essential|important|necessary|crucial|vital|"
                                   r"critical|need(?:s|ed)? to|should|must|depend(?:s|ed)? (?:on|upon)|"
                                   r"requires?|underpin(?:s|ned)?|helped|enabl(?:e|ed|es|ing)|foster)\b"),
        ("success factor", r"\b(?:success(?:ful|fully)?|effective(?:ly|ness)?|works? well|worked well|strength of)\b"),
    ],
    "barrier": [
        ("obstacle named", r"\b(?:challeng(?:e|es|ing)|obstacles?|barriers?|difficult(?:y|ies)?|problem(?:s|atic)?|"
                           r"risks?|tensions?|constraints?|drawbacks?|pitfalls?|hinder(?:ed|s)?|inhibit(?:ed|s|ing)?|"
                           r"impede|threat(?:s|en|ened)?|struggl(?:e|ed)|frustrat(?:ed|ion)|conflict)\b"),
        ("named barrier", r"\b(?:compet(?:ition|ing|itive|e)|workload|bureaucra(?:cy|tic)|turnover|distance|transport|"
                          r"isolation|resist(?:ance|ed)|reluctan(?:ce|t)|suspicio(?:n|us)|fear|mistrust|distrust|"
                          r"accountability|time[- ]consuming|time pressures?|pressures? of time|cost(?:s|ly)?|"
                          r"(?:funding|money) (?:\w+ ){0,2}(?:ends?|ended|ending|drying up|runs? out|cut)|"
                          r"periphery|less (?:strongly )?engaged|imbalance|unequal|dependen(?:ce|t) on)\b"),
        ("sustainability at risk", r"\b(?:unsustainable|not sustainable|sustainability)\b"),
    ],
}

#: Absence of a condition ⇒ barrier ("lack of trust", "without dedicated time").
#: The codebook's named themes per category, as seed words for guided topic modelling: they
#: nudge clusters towards themes researchers already recognise, while unseeded clusters are
#: still discovered.
SEED_TOPICS: dict[str, list[list[str]]] = {
    "structure": [["federation", "federations", "hard", "soft"], ["academy", "trust", "chain", "sponsor"],
                  ["executive", "headteacher", "headship"], ["governing", "body", "governance", "board"],
                  ["network", "cluster", "alliance"], ["steering", "group", "coordinator"],
                  ["joint", "cpd", "training", "shared", "staff"], ["excellence", "cities", "zone", "initiative"]],
    "impact": [["attainment", "results", "gcse", "standards"], ["attendance", "exclusions", "behaviour"],
               ["professional", "development", "staff", "confidence"], ["curriculum", "provision", "vocational"],
               ["leadership", "capacity", "succession"], ["inclusion", "community", "equity"],
               ["ofsted", "inspection", "improvement"]],
    "condition": [["trust", "respect", "relationships"], ["shared", "vision", "values", "moral", "purpose"],
                  ["time", "dedicated"], ["funding", "resources", "incentives"], ["leadership", "commitment"],
                  ["clear", "roles", "structures"], ["mutual", "benefit"], ["facilitation", "brokerage", "support"],
                  ["communication", "dialogue"], ["evaluation", "evidence", "monitoring"]],
    "barrier": [["competition", "competing", "league", "tables"], ["time", "workload", "pressure"],
                ["funding", "cost", "money"], ["distance", "transport", "travel"], ["turnover", "heads", "staff"],
                ["accountability", "ofsted", "pressures"], ["engagement", "commitment", "unequal"],
                ["culture", "priorities", "differences"], ["sustainability", "dependence"],
                ["resistance", "parents", "governors"], ["bureaucracy", "paperwork"]],
}

#: Words every theme in this corpus shares: they say nothing about a theme, so labels skip them.
GENERIC_WORDS = ("author", "authors", "majority", "possibility", "school", "schools", "collaboration", "collaborations", "collaborative", "collaborate",
                 "collaborating", "partnership", "partnerships", "partner", "partners", "inter-school",
                 "school-to-school", "education", "educational", "teacher", "teachers", "teaching", "headteacher",
                 "headteachers", "head", "heads", "staff", "student", "students", "pupil", "pupils", "work",
                 "working", "worked", "interviewee", "interviewees", "respondent", "respondents", "felt", "said",
                 "says", "argued", "stated", "noted", "reported", "suggested", "commented", "explained", "believed",
                 "involved", "involvement", "particularly", "example", "number", "way", "ways", "need", "needs", "year", "years", "thing", "things",
                 "term", "terms", "case", "cases", "fact", "view", "use", "issue", "issues", "area", "areas", "kind",
                 "et", "al", "ibid", "pp", "eg", "ie", "etc")
