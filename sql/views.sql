-- Views created when `vigil query` or `vigil sql` starts. A view whose tables are not in the
-- session's zone (e.g. `--zone aggregate`) is skipped.

-- Campaigns per nightly run with member counts and growth since the previous night.
CREATE VIEW campaign_overview AS
SELECT c.date, c.campaign_id, c.status, c.kind, c.score, c.accounts, c.conversations,
       c.previous_accounts, c.accounts - coalesce(c.previous_accounts, 0) AS account_growth,
       m.member_accounts, c.first_seen, c.last_seen, c.summary
FROM campaigns c
LEFT JOIN (
  SELECT date, campaign_id, count(DISTINCT account_id) AS member_accounts
  FROM campaign_members GROUP BY date, campaign_id
) m ON m.date = c.date AND m.campaign_id = c.campaign_id;

-- Conversations per day and policy area, with concern.
CREATE VIEW daily_policy_volume AS
SELECT date, policy_area, count(*) AS conversations, avg(concern) AS mean_concern, max(concern) AS max_concern
FROM facets
GROUP BY date, policy_area;

-- Topics per nightly run against the same topic (its stable id) a week earlier: conversations
-- and accounts in each night's window (aggregate zone only).
CREATE VIEW topic_growth AS
SELECT cur.date, cur.topic_id, cur.level, cur.name, cur.conversations, cur.accounts,
       prev.conversations AS conversations_week_before,
       cur.conversations - coalesce(prev.conversations, 0) AS change
FROM topics cur
LEFT JOIN topics prev
  ON prev.topic_id = cur.topic_id AND prev.date = cur.date - INTERVAL '7' DAY
WHERE cur.cluster_id IS NOT NULL;
