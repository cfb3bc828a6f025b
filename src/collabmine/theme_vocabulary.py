"""The codebook's vocabulary as patterns, with absence and negation.

Patterns are regular expressions over lower-cased sentence text with inflections spelled out,
so they need no lemmatiser at run time (which keeps tagging fast); each has a name that
becomes the explanation of a tag. ``HEADING_CUES`` label whole sections from their headings
("Factors important to the success of ...", "Issues and challenges ..."): the weak
supervision the classifier is trained on.
"""

from __future__ import annotations

import re

CATEGORIES = ("structure", "impact", "condition", "barrier")

_W = r"(?:\w+\W+){0,3}?"  # up to three words between a cue and its object

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
ABSENCE = re.compile(r"\b(?:lack(?:ed|ing|s)? (?:of )?|without |absence of |insufficient |limited |little |"
                     r"not enough |loss of |no (?:clear |real )?)" + _W +
                     r"(?:trust|time|funding|commitment|support|communication|vision|leadership|capacity|clarity|"
                     r"resources?|ownership|engagement|understanding|agreement|incentives?)\b")
#: Absence of a barrier given as a reason ⇒ condition ("because we are not competing").
ABSENT_BARRIER = re.compile(r"\b(?:because|since|as|so|when|where)\W+" + _W +
                            r"(?:not|no longer|never|no)\W+" + _W +
                            r"(?:compet\w*|rival\w*|threat\w*|judg\w*|isolat\w*)")

#: Heading rules: a section whose heading matches is weakly labelled with the category (the
#: classifier's training labels; tagging itself uses ``HEADING_PROTOTYPES``).
HEADING_CUES: dict[str, str] = {
    "barrier": r"challeng|issues and|obstacle|barrier|drawback|constraint|inhibit|difficult|problem|fear of|"
               r"versus competition|additional demands|threat",
    "condition": r"success|effective partnership|effective collaboration|factors|conditions|features of|"
                 r"characteristics of|achieving|key processes|getting the start|clarifying roles|trust\b|"
                 r"incentive|pressure and support|transparency|quick win|planning, supporting|sensitivity|"
                 r"representative voice|diagnosis|stretching",
    "impact": r"impact|benefit|outcome|improved|enhanced|achievement|raised|gains|teachers and teaching|"
              r"wider collaboration|solving problems|at-risk groups|use of resources|development$",
    "structure": r"structure of collab|type|dimension|models? |forms of|governance|leadership|management|"
                 r"organisation|the federation$|the zone$|central collaborative|federations$|academ|trust$|"
                 r"teaching schools|voluntary or prescribed|cross-phase|single-sector|geographical|alliance offers|"
                 r"lea role|bidding|partnership development|facilitating|monitoring$|regions|management board",
    "none": r"method|selection of areas|literature review|aims and|introduction|^context$|structure of the review|"
            r"analysis|scope and evidence|terminology|gaps in the knowledge|structure of the report|background$",
}


#: Heading prototypes: short headings a report might give a section about each category, written
#: from the codebook's category names (and "none" for the parts of a report that carry no claim).
#: At tagging time a section's heading is compared with these by sentence embedding, so headings
#: worded differently from this corpus's still cue their category. ``HEADING_CUES`` (regular
#: expressions written on the bundled reports' own headings) only label the training data: on a
#: report whose headings they all miss, held-out dev macro-F1 fell from 0.61 to 0.41.
HEADING_PROTOTYPES: dict[str, list[str]] = {
    "barrier": ["Barriers to collaboration", "Challenges and difficulties", "Issues and problems",
                "Obstacles to partnership working", "Constraints", "What gets in the way", "Risks and tensions",
                "Drawbacks"],
    "condition": ["Factors for success", "Conditions for effective collaboration", "What makes partnerships work",
                  "Key success factors", "Lessons learned", "Making collaboration effective", "Enablers",
                  "Building trust"],
    "impact": ["Impact of collaboration", "Benefits of partnership", "Outcomes", "Effects on pupils and staff",
               "Evidence of improvement", "What difference has it made"],
    "structure": ["Structure of the partnership", "Governance arrangements", "Types of collaboration",
                  "Leadership and management", "Organisation of the partnership", "Models of partnership",
                  "Roles and responsibilities", "Membership"],
    "none": ["Methodology", "Introduction", "Background", "References", "Acknowledgements", "Context",
             "Executive summary", "Conclusions", "Appendix", "Contents", "About the authors", "Research methods"],
}


#: Short example sentences written from the codebook's definitions (one per listed item, plus
#: background that is "none"), never taken from the gold. Each sentence is scored by its
#: similarity to these (a softmax over the five classes, so "none" competes), which generalises to
#: wording the patterns miss; the closest example is the tag's explanation.
CODEBOOK_EXAMPLES: dict[str, list[str]] = {
    "structure": [
        "The schools formed a federation under one executive headteacher and a shared governing body.",
        "The multi-academy trust is made up of several academies run by a board of trustees.",
        "The partnership is a network of primary and secondary schools organised as a cluster.",
        "Schools were grouped geographically into learning alliances.",
        "The collaborative includes six secondary schools, two special schools and the local college.",
        "The steering group, chaired in rotation by the headteachers, meets every half term.",
        "A coordinator was appointed to manage the partnership and its working groups.",
        "The lead school acts as a hub for the other schools in the alliance.",
        "The schools signed a memorandum of understanding setting out how the partnership is governed.",
        "Staff from the schools take part in joint professional development programmes and peer review.",
        "The schools share staff and provision across the partnership.",
        "The Excellence in Cities initiative brought the schools in the area together.",
        "Membership of the partnership was voluntary.",
        "The teaching school alliance is led by an outstanding school.",
    ],
    "impact": [
        "Collaboration has raised pupils' attainment and examination results.",
        "Attendance improved and exclusions fell in the partner schools.",
        "Pupils now have access to a wider curriculum and more vocational courses.",
        "Working together improved teachers' professional development, skills and confidence.",
        "The partnership has helped to retain staff and develop future leaders.",
        "The weaker school improved and was judged good by Ofsted at its next inspection.",
        "There is limited evidence that collaboration had an impact on attainment.",
        "The collaboration has benefited pupils' well-being and progression.",
        "Heads said the partnership had increased leadership capacity across the schools.",
        "The collaboration led to better relationships with the local community.",
        "Federated schools performed better than similar non-federated schools.",
    ],
    "condition": [
        "Trust and mutual respect between headteachers are essential for the partnership to succeed.",
        "A shared vision and common values underpin successful collaboration.",
        "Committed leadership from the headteachers was key to making the partnership work.",
        "Partnerships need dedicated time and funding to be effective.",
        "Clear roles and structures help collaboration succeed.",
        "Collaboration works best when every school gains something from it.",
        "It is important to start small and secure some quick wins.",
        "External facilitation and support from the local authority helped the schools work together.",
        "Keeping the focus on teaching and learning made the partnership effective.",
        "Good communication between schools is a key factor for success.",
        "Regular evaluation and use of evidence helped sustain the collaboration.",
        "Trust grew because the schools were not competing with each other.",
    ],
    "barrier": [
        "Competition between schools made collaboration difficult.",
        "Lack of time and heavy workload were the main barriers to collaboration.",
        "When the funding came to an end the partnership struggled to continue.",
        "The distance between schools and transport costs hindered joint work.",
        "Differences in culture and priorities caused tensions between the schools.",
        "A lack of trust between heads undermined the partnership.",
        "Accountability pressures and league tables discouraged schools from working together.",
        "Turnover of headteachers threatened the sustainability of the collaboration.",
        "Some schools were fully engaged while others remained on the periphery.",
        "Bureaucracy and the dependence on a few key individuals were problems.",
        "Staff, parents and governors resisted the federation.",
        "Without dedicated time the work stalled.",
    ],
    "none": [
        "The study was carried out by a team of university researchers.",
        "Interviews were conducted with headteachers in ten local authorities.",
        "This chapter describes the methods used in the research.",
        "The report is structured in five sections.",
        "The following section discusses these findings in more detail.",
        "In this report the term collaboration refers to schools working together.",
        "The area has a long history of industry and a growing population.",
        "We would like to thank all those who took part in the research.",
        "Further details are given in the appendix.",
        "The questionnaire was sent to a sample of schools.",
    ],
}


def heading_words(heading: str) -> str:
    """A heading without its section number ("7.1.2 Additional demands" -> "Additional demands")."""
    return re.sub(r"^\d+(?:\.\d+)*\s+", "", heading)


def compiled_patterns() -> dict[str, list[tuple[str, re.Pattern]]]:
    return {cat: [(name, re.compile(p)) for name, p in pats] for cat, pats in PATTERNS.items()}


def heading_categories(section_path: list[str]) -> set[str]:
    """Weak labels: categories of the deepest heading matching a rule (or {"none"} for method
    sections)."""
    for heading in reversed(section_path):
        text = heading_words(heading).lower()
        found = {cat for cat, pattern in HEADING_CUES.items() if re.search(pattern, text)}
        if found:
            return found
    return set()


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
