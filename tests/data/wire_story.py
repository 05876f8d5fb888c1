"""A synthetic wire story as five outlets rewrite it, and two other stories on the same topic."""

WIRE = (
    "NATO foreign ministers agreed on Tuesday to gradually resume formal contacts with Russia, "
    "suspended after the war in Georgia in August. The decision, reached at a meeting in Brussels, "
    "reopens the NATO-Russia Council, the forum where the alliance and Moscow discuss security. "
    "Several ministers said the alliance could not ignore Russia, a neighbour and a major power, "
    "even while it disagreed strongly with its actions in Georgia. Germany and France had pressed "
    "for the contacts to resume, while Lithuania and Poland had argued for a harder line. "
    "The ministers also declined to offer Ukraine and Georgia Membership Action Plans, the formal "
    "step towards joining, saying both countries would instead work with NATO through annual programmes. "
    "Russia's envoy to NATO welcomed the decision but said trust would take time to rebuild."
)

OUTLETS = [  # (feed name, link, title, body)
    (
        "Reuters",
        "https://www.reuters.com/world/nato-russia-contacts?utm_source=rss&utm_medium=feed",
        "NATO agrees to resume contacts with Russia - Reuters",
        "BRUSSELS (Reuters) - " + WIRE,
    ),
    (
        "AP",
        "https://apnews.com/article/nato-russia-council-1234#comments",
        "NATO agrees to resume contacts with Russia",
        WIRE.replace("agreed on Tuesday", "decided Tuesday").replace("major power", "great power"),
    ),
    (
        "Daily Planet",
        "https://m.dailyplanet.example/world/nato-russia/amp/?ocid=socialflow",
        "Nato agrees to gradually resume contacts with Russia | Daily Planet",
        WIRE.replace("Several ministers said", "Ministers said")
        + " Analysts said the move was a pragmatic one after months of tension.",
    ),
    (
        "Globe",
        "https://www.globe.example/news/2008/12/02/nato-russia.html?cmpid=rss",
        "Alliance to resume talks with Moscow after Georgia war",
        WIRE.replace(
            "Germany and France had pressed for the contacts to resume, while Lithuania and Poland "
            "had argued for a harder line. ",
            "",
        ),
    ),
    (
        "Herald",
        "https://herald.example/world/europe/nato-resumes-russia-contacts",
        "NATO resumes Russia contacts",
        "NATO will gradually resume contacts with Moscow, its foreign ministers decided. "
        + WIRE.split(". ", 1)[1].replace("NATO-Russia Council", "NATO-Russia council"),
    ),
]

SAME_TOPIC = [  # different stories a rule on "NATO-Russia Council" also matches
    (
        "Reuters",
        "https://www.reuters.com/world/nato-russia-council-meets",
        "NATO-Russia Council meets for first time since Georgia war",
        "The NATO-Russia Council met in Brussels on Wednesday for the first time since the August war "
        "in Georgia, with ambassadors discussing Afghanistan, piracy off Somalia and arms control. "
        "Diplomats described the three-hour meeting as frank and said no breakthroughs were expected. "
        "Russia's ambassador said Moscow wanted a new European security treaty, an idea the alliance "
        "has treated with caution. The next meeting is planned for the spring.",
    ),
    (
        "AP",
        "https://apnews.com/article/russia-nato-missile-defence-5678",
        "Russia warns NATO over missile defence plans",
        "Russia warned NATO on Thursday that American plans for missile defence in Poland and the Czech "
        "Republic would force it to respond, days after the alliance agreed to resume contacts through "
        "the NATO-Russia Council. The Russian foreign minister said the plans threatened Russia's "
        "security and that Moscow would deploy short-range missiles in Kaliningrad if they went ahead.",
    ),
]
