-- topic_history: one topic night by night: its name, cluster and volume in each night's window,
-- its conversations on the night's own day, and what happened to it (lineage).
-- params: $topic_id (text)
SELECT t.date AS night, t.name, t.level, t.cluster_id,
       t.conversations AS window_conversations, t.accounts AS window_accounts,
       d.conversations AS day_conversations, d.accounts AS day_accounts, t.lineage
FROM topics t
LEFT JOIN topic_daily d ON d.topic_id = t.topic_id AND d.date = t.date AND d.day = t.date
WHERE t.topic_id = $topic_id
ORDER BY night;
