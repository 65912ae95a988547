-- cluster_conversations: the conversations behind a cluster, most typical first.
-- params: $cluster_id (text, e.g. 2026-11-22-L0-0003), $date (date of the nightly run)
SELECT m.conversation_id, m.account_id, m.similarity, c.language, c.created_at, c.user_text
FROM cluster_members m
JOIN conversations c ON c.conversation_id = m.conversation_id
WHERE m.cluster_id = $cluster_id AND m.date = $date
ORDER BY m.similarity DESC, m.conversation_id
LIMIT 200;
