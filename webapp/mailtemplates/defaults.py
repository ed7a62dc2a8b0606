"""The texts every agency starts with, in Russian (formal "Вы") and English; HTML made from the text."""
import re
from dataclasses import dataclass

from webapp import notification_kinds as kinds

LANGUAGES = ("ru", "en")


@dataclass(frozen=True)
class DefaultTemplate:
    subject: str
    body_text: str
    body_html: str


_SIGNATURE = {
    "ru": "\n\nС уважением,\n{{ agency_name }}\n{{ agency_email }}",
    "en": "\n\nKind regards,\n{{ agency_name }}\n{{ agency_email }}",
}

_TEXTS = {
    (kinds.REGISTRATION_CONFIRMATION, "ru"): (
        "Подтвердите регистрацию на сайте {{ agency_name }}",
        "Здравствуйте, {{ client_name }}!\n\n"
        "Вы зарегистрировались на сайте {{ agency_name }} с логином {{ login }}. "
        "Чтобы завершить регистрацию, перейдите по ссылке:\n{{ confirm_url }}\n\n"
        "{% if expiry_minutes %}Ссылка действительна {{ expiry_minutes }} мин. После этого "
        "регистрацию придётся пройти заново.{% else %}Ссылка действует без ограничения "
        "срока.{% endif %}\n\n"
        "Если Вы не регистрировались, просто не отвечайте на это письмо."),
    (kinds.REGISTRATION_CONFIRMATION, "en"): (
        "Confirm your registration at {{ agency_name }}",
        "Dear {{ client_name }},\n\n"
        "You have registered at {{ agency_name }} with the login {{ login }}. "
        "To complete your registration, open this link:\n{{ confirm_url }}\n\n"
        "{% if expiry_minutes %}The link is valid for {{ expiry_minutes }} minutes; after that "
        "you will need to register again.{% else %}The link does not expire.{% endif %}\n\n"
        "If you did not register, simply ignore this email."),
    (kinds.ORDER_CHANGE, "ru"): (
        "Изменения в заказе № {{ order_number }}",
        "Здравствуйте, {{ client_name }}!\n\n"
        "В Вашем заказе № {{ order_number }} произошли изменения"
        "{% if change_summary %}: {{ change_summary }}{% else %}.{% endif %}\n\n"
        "{% if payment_time_limit %}Пожалуйста, оплатите заказ до {{ payment_time_limit }}.\n\n"
        "{% endif %}"
        "Если у Вас есть вопросы, ответьте на это письмо."),
    (kinds.ORDER_CHANGE, "en"): (
        "Your order {{ order_number }} has changed",
        "Dear {{ client_name }},\n\n"
        "Your order {{ order_number }} has changed"
        "{% if change_summary %}: {{ change_summary }}{% else %}.{% endif %}\n\n"
        "{% if payment_time_limit %}Please pay for the order by {{ payment_time_limit }}.\n\n"
        "{% endif %}"
        "If you have any questions, reply to this email."),
    (kinds.TIME_LIMIT_WARNING, "ru"): (
        "Заказ № {{ order_number }}: срок оплаты истекает",
        "Здравствуйте, {{ client_name }}!\n\n"
        "Срок оплаты Вашего заказа № {{ order_number }} истекает {{ payment_time_limit }} "
        "(осталось {{ minutes_left }} мин.). Если заказ не будет оплачен вовремя, бронирование "
        "будет аннулировано.\n\n"
        "Если Вы уже оплатили заказ, не обращайте внимания на это письмо."),
    (kinds.TIME_LIMIT_WARNING, "en"): (
        "Order {{ order_number }}: the payment time limit is running out",
        "Dear {{ client_name }},\n\n"
        "The payment time limit of your order {{ order_number }} expires at "
        "{{ payment_time_limit }} ({{ minutes_left }} minutes left). If the order is not paid "
        "in time, the booking will be cancelled.\n\n"
        "If you have already paid, please disregard this email."),
    (kinds.DATA_DEADLINE, "ru"): (
        "Заказ № {{ order_number }}: укажите данные для бронирования",
        "Здравствуйте, {{ client_name }}!\n\n"
        "Для заказа № {{ order_number }} не хватает обязательных данных. Пожалуйста, укажите их "
        "до {{ data_deadline }} (осталось {{ hours_left }} ч.), иначе бронирование может быть "
        "аннулировано."),
    (kinds.DATA_DEADLINE, "en"): (
        "Order {{ order_number }}: booking details are required",
        "Dear {{ client_name }},\n\n"
        "Your order {{ order_number }} is missing mandatory booking details. Please provide them "
        "by {{ data_deadline }} ({{ hours_left }} hours left), or the booking may be cancelled."),
    (kinds.TEST_EMAIL, "ru"): (
        "Тестовое письмо от {{ agency_name }}",
        "Это тестовое письмо. Если Вы его получили, уведомления {{ agency_name }} доходят до "
        "адресатов."),
    (kinds.TEST_EMAIL, "en"): (
        "Test email from {{ agency_name }}",
        "This is a test email. If you have received it, notifications from {{ agency_name }} "
        "reach their recipients."),
    (kinds.BOOKING_CREATED, "ru"): (
        "Ваше бронирование № {{ order_number }}",
        "Здравствуйте, {{ client_name }}!\n\n"
        "Спасибо за бронирование. Ваш заказ № {{ order_number }} принят."
        "{% if itinerary %}\n\nМаршрут:\n{{ itinerary }}{% endif %}\n\n"
        "{% if amount %}Сумма к оплате: {{ amount }}.\n{% endif %}"
        "{% if payment_time_limit %}Пожалуйста, оплатите заказ до {{ payment_time_limit }}: "
        "после этого срока бронирование будет аннулировано.{% endif %}"
        "{% if documents %}\n\nВо вложении: {{ documents }}.{% endif %}\n\n"
        "Если у Вас есть вопросы, ответьте на это письмо."),
    (kinds.BOOKING_CREATED, "en"): (
        "Your booking {{ order_number }}",
        "Dear {{ client_name }},\n\n"
        "Thank you for your booking. Your order {{ order_number }} has been received."
        "{% if itinerary %}\n\nItinerary:\n{{ itinerary }}{% endif %}\n\n"
        "{% if amount %}Amount due: {{ amount }}.\n{% endif %}"
        "{% if payment_time_limit %}Please pay for the order by {{ payment_time_limit }}: after "
        "that the booking will be cancelled.{% endif %}"
        "{% if documents %}\n\nAttached: {{ documents }}.{% endif %}\n\n"
        "If you have any questions, reply to this email."),
    (kinds.BOOKING_ISSUED, "ru"): (
        "Ваши билеты по заказу № {{ order_number }}",
        "Здравствуйте, {{ client_name }}!\n\n"
        "Заказ № {{ order_number }} выписан."
        "{% if documents %} Ваши документы во вложении: {{ documents }}. Пожалуйста, "
        "распечатайте их или сохраните в телефоне и возьмите с собой в поездку."
        "{% else %} Документы по заказу доступны в личном кабинете.{% endif %}"
        "{% if itinerary %}\n\nМаршрут:\n{{ itinerary }}{% endif %}\n\n"
        "Желаем приятной поездки!"),
    (kinds.BOOKING_ISSUED, "en"): (
        "Your tickets for order {{ order_number }}",
        "Dear {{ client_name }},\n\n"
        "Your order {{ order_number }} has been issued."
        "{% if documents %} Your documents are attached: {{ documents }}. Please print them or "
        "keep them on your phone for the journey."
        "{% else %} The documents of the order are in your account.{% endif %}"
        "{% if itinerary %}\n\nItinerary:\n{{ itinerary }}{% endif %}\n\n"
        "Have a pleasant trip!"),
    (kinds.BOOKING_CANCELLED, "ru"): (
        "Заказ № {{ order_number }} аннулирован",
        "Здравствуйте, {{ client_name }}!\n\n"
        "Ваш заказ № {{ order_number }} аннулирован"
        "{% if reason %}: {{ reason }}{% else %}.{% endif %}"
        "{% if documents %}\n\nВо вложении: {{ documents }}.{% endif %}\n\n"
        "Если Вы не просили об аннулировании или хотите забронировать заново, ответьте на это "
        "письмо."),
    (kinds.BOOKING_CANCELLED, "en"): (
        "Order {{ order_number }} has been cancelled",
        "Dear {{ client_name }},\n\n"
        "Your order {{ order_number }} has been cancelled"
        "{% if reason %}: {{ reason }}{% else %}.{% endif %}"
        "{% if documents %}\n\nAttached: {{ documents }}.{% endif %}\n\n"
        "If you did not ask for the cancellation or would like to book again, reply to this "
        "email."),
    (kinds.PAYMENT_RECEIVED, "ru"): (
        "Оплата заказа № {{ order_number }} получена",
        "Здравствуйте, {{ client_name }}!\n\n"
        "Мы получили оплату заказа № {{ order_number }}"
        "{% if paid_amount %}: {{ paid_amount }}{% endif %}."
        "{% if reference %}\nНомер платежа: {{ reference }}.{% endif %}"
        "{% if documents %}\n\nВо вложении: {{ documents }}.{% endif %}\n\n"
        "Спасибо! Как только билеты будут выписаны, мы пришлём их отдельным письмом."),
    (kinds.PAYMENT_RECEIVED, "en"): (
        "Payment received for order {{ order_number }}",
        "Dear {{ client_name }},\n\n"
        "We have received the payment for your order {{ order_number }}"
        "{% if paid_amount %}: {{ paid_amount }}{% endif %}."
        "{% if reference %}\nPayment reference: {{ reference }}.{% endif %}"
        "{% if documents %}\n\nAttached: {{ documents }}.{% endif %}\n\n"
        "Thank you! Your tickets will follow in a separate email once they are issued."),
    (kinds.AGENCY_BOOKING_CREATED, "ru"): (
        "Новое бронирование № {{ order_number }}",
        "Новое бронирование на сайте.\n\n"
        "Заказ: № {{ order_number }}\n"
        "Клиент: {{ client_name }}, {{ client_email }}\n"
        "Сумма: {% if amount %}{{ amount }}{% else %}не указана{% endif %}\n"
        "Срок оплаты: {% if payment_time_limit %}{{ payment_time_limit }}{% else %}не указан"
        "{% endif %}"
        "{% if itinerary %}\n\nМаршрут:\n{{ itinerary }}{% endif %}"),
    (kinds.AGENCY_BOOKING_CREATED, "en"): (
        "New booking {{ order_number }}",
        "A new booking has been made on the site.\n\n"
        "Order: {{ order_number }}\n"
        "Client: {{ client_name }}, {{ client_email }}\n"
        "Amount: {% if amount %}{{ amount }}{% else %}not given{% endif %}\n"
        "Payment time limit: {% if payment_time_limit %}{{ payment_time_limit }}{% else %}"
        "not given{% endif %}"
        "{% if itinerary %}\n\nItinerary:\n{{ itinerary }}{% endif %}"),
    (kinds.AGENCY_BOOKING_ISSUED, "ru"): (
        "Заказ № {{ order_number }} выписан",
        "Заказ № {{ order_number }} выписан.\n\n"
        "Клиент: {{ client_name }}, {{ client_email }}\n"
        "{% if amount %}Сумма: {{ amount }}\n{% endif %}"
        "{% if documents %}Клиенту отправлены документы: {{ documents }}{% else %}"
        "Документы клиенту не приложены.{% endif %}"),
    (kinds.AGENCY_BOOKING_ISSUED, "en"): (
        "Order {{ order_number }} issued",
        "Order {{ order_number }} has been issued.\n\n"
        "Client: {{ client_name }}, {{ client_email }}\n"
        "{% if amount %}Amount: {{ amount }}\n{% endif %}"
        "{% if documents %}Documents sent to the client: {{ documents }}{% else %}"
        "No documents were attached for the client.{% endif %}"),
    (kinds.AGENCY_BOOKING_CANCELLED, "ru"): (
        "Заказ № {{ order_number }} аннулирован",
        "Заказ № {{ order_number }} аннулирован"
        "{% if reason %}: {{ reason }}{% else %}.{% endif %}\n\n"
        "Клиент: {{ client_name }}, {{ client_email }}\n"
        "{% if amount %}Сумма: {{ amount }}{% endif %}"),
    (kinds.AGENCY_BOOKING_CANCELLED, "en"): (
        "Order {{ order_number }} cancelled",
        "Order {{ order_number }} has been cancelled"
        "{% if reason %}: {{ reason }}{% else %}.{% endif %}\n\n"
        "Client: {{ client_name }}, {{ client_email }}\n"
        "{% if amount %}Amount: {{ amount }}{% endif %}"),
    (kinds.AGENCY_BOOKING_CHANGED, "ru"): (
        "Изменения в заказе № {{ order_number }}",
        "Заказ № {{ order_number }} изменён"
        "{% if change_summary %}: {{ change_summary }}{% else %}.{% endif %}\n\n"
        "Клиент: {{ client_name }}, {{ client_email }}\n"
        "Статус: {{ status }}\n"
        "{% if payment_time_limit %}Срок оплаты: {{ payment_time_limit }}{% endif %}"),
    (kinds.AGENCY_BOOKING_CHANGED, "en"): (
        "Order {{ order_number }} changed",
        "Order {{ order_number }} has changed"
        "{% if change_summary %}: {{ change_summary }}{% else %}.{% endif %}\n\n"
        "Client: {{ client_name }}, {{ client_email }}\n"
        "Status: {{ status }}\n"
        "{% if payment_time_limit %}Payment time limit: {{ payment_time_limit }}{% endif %}"),
    (kinds.AGENCY_PAYMENT_RECEIVED, "ru"): (
        "Оплата заказа № {{ order_number }}",
        "Получена оплата заказа № {{ order_number }}"
        "{% if paid_amount %}: {{ paid_amount }}{% endif %}.\n\n"
        "Клиент: {{ client_name }}, {{ client_email }}\n"
        "{% if reference %}Номер платежа: {{ reference }}{% endif %}"),
    (kinds.AGENCY_PAYMENT_RECEIVED, "en"): (
        "Payment for order {{ order_number }}",
        "A payment for order {{ order_number }} has been received"
        "{% if paid_amount %}: {{ paid_amount }}{% endif %}.\n\n"
        "Client: {{ client_name }}, {{ client_email }}\n"
        "{% if reference %}Payment reference: {{ reference }}{% endif %}"),
}

_URL_VARIABLE = re.compile(r"\{\{ (\w+_url) \}\}")


def _html(text: str) -> str:
    """The text as HTML paragraphs, its link variables clickable; Jinja escapes the values."""
    paragraphs = "\n".join(
        "<p>" + paragraph.replace("\n", "<br>\n") + "</p>" for paragraph in text.split("\n\n"))
    paragraphs = _URL_VARIABLE.sub(r'<a href="{{ \1 }}">{{ \1 }}</a>', paragraphs)
    return ('<!doctype html>\n<html>\n<body style="font-family: Arial, sans-serif; '
            'font-size: 15px; line-height: 1.5">\n' + paragraphs + "\n</body>\n</html>\n")


def default_template(kind: str, language: str) -> DefaultTemplate:
    subject, body = _TEXTS[kind, language]
    text = body + _SIGNATURE[language]
    return DefaultTemplate(subject=subject, body_text=text + "\n", body_html=_html(text))
