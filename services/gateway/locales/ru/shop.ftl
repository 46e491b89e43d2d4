# Страницы покупателя, по-русски. Каждый ключ должен быть и в ../en/shop.ftl (это проверяет тест).
shop-name = Shopkeeper
nav-skip = Перейти к содержимому
nav-label = Главное меню
nav-cart = Корзина
nav-orders = Мои заказы
nav-profile = Профиль
nav-admin = Управление
nav-logout = Выйти
nav-login = Войти
nav-register = Регистрация
nav-api = Документация API
optional = необязательно
yes = да
no = нет

error-status = Ошибка { $status }
error-home = Вернуться в магазин
error-forbidden = У вас нет доступа к этой странице.
error-csrf = Форма устарела. Вернитесь, обновите страницу и попробуйте ещё раз.
error-unavailable = Эта часть магазина сейчас недоступна. Попробуйте чуть позже.
error-not-found = По этому адресу ничего нет.
error-throttled = Слишком много попыток. Подождите минуту и попробуйте снова.
error-invalid = Не удалось разобрать запрос.

home-title = Товары
filter-search = Поиск
filter-search-placeholder = Название, описание или артикул
filter-category = Категория
filter-category-all = Все категории
filter-price-min = Цена от
filter-price-max = Цена до
filter-in-stock = Только в наличии
filter-sort = Сортировка
filter-per-page = На странице
filter-apply = Показать
sort-relevance = По релевантности
sort-newest = Сначала новые
sort-price-asc = Сначала дешёвые
sort-price-desc = Сначала дорогие
sort-name = По названию
home-unavailable = Каталог сейчас недоступен. Попробуйте чуть позже.
home-empty = В магазине пока нет товаров.
home-nothing-found = По этим условиям ничего не нашлось.
home-clear-filters = Сбросить фильтры
home-bad-filter = Эти фильтры не подходят: проверьте цены.
home-found = { $count ->
    [one] { $count } товар
    [few] { $count } товара
   *[many] { $count } товаров
}
home-found-more = Больше { $count } товаров
stock-in = В наличии
stock-low = { $count ->
    [one] Осталась { $count } штука
    [few] Осталось { $count } штуки
   *[many] Осталось { $count } штук
}
stock-out = Нет в наличии
pages-label = Страницы
pages-prev = Назад
pages-next = Вперёд
pages-of = Страница

product-back = ← Все товары
product-qty = Количество
product-add = В корзину
product-attributes = Характеристики
product-sku = Артикул
product-no-image = Фото пока нет

login-title = Вход
login-submit = Войти
login-no-account = Ещё нет аккаунта?
login-error-credentials = Неверный email или пароль.
login-error-throttled = Слишком много попыток. Подождите минуту и попробуйте снова.
login-error-expired = Форма устарела. Попробуйте ещё раз.
login-error-unavailable = Вход сейчас недоступен. Попробуйте чуть позже.
field-email = Email
field-password = Пароль
field-name = Имя
field-phone = Телефон
field-address = Адрес доставки
field-current-password = Текущий пароль
field-new-password = Новый пароль

register-title = Регистрация
register-submit = Зарегистрироваться
register-have-account = Уже есть аккаунт?
register-password-hint = От 8 до 128 символов; не ваш email и не распространённый пароль.
rule-email-empty = Введите адрес электронной почты.
rule-email-invalid = Это не похоже на адрес электронной почты (name@example.com).
rule-email-taken = Аккаунт с этим email уже есть. Может быть, войти?
rule-password-short = Пароль должен быть не короче 8 символов.
rule-password-long = Пароль должен быть не длиннее 128 символов.
rule-password-email = Пароль не должен совпадать с вашим email.
rule-password-common = Этот пароль слишком распространённый или простой. Выберите другой.
rule-current-password = Это не ваш текущий пароль.
rule-control = Только печатные символы, пожалуйста.
rule-phone = Введите номер телефона: от 5 до 15 цифр, можно с + в начале.
rule-too-long = Слишком длинно.
rule-empty = Это поле не может быть пустым.
rule-invalid = Недопустимое значение.

profile-title = Профиль
profile-plan = Тариф
plan-free = Бесплатный
plan-premium = Премиум
profile-plan-until = до
profile-details = Контактные данные
profile-save = Сохранить
profile-password = Пароль
profile-change-password = Сменить пароль

cart-title = Корзина
cart-empty = Ваша корзина пуста.
cart-browse = Перейти к товарам
cart-image = Изображение
cart-product = Товар
cart-price = Цена
cart-qty = Количество
cart-line-total = Сумма
cart-actions = Действия
cart-update = Обновить
cart-remove = Удалить
cart-price-changed = Цена изменилась с момента добавления
cart-out-of-stock = Сейчас нет в наличии: удалите, чтобы оформить заказ.
cart-only-left = { $count ->
    [one] Осталась { $count } штука: уменьшите количество, чтобы оформить заказ.
    [few] Осталось { $count } штуки: уменьшите количество, чтобы оформить заказ.
   *[many] Осталось { $count } штук: уменьшите количество, чтобы оформить заказ.
}
cart-total = { $count ->
    [one] Итого за { $count } товар
    [few] Итого за { $count } товара
   *[many] Итого за { $count } товаров
}
cart-fix-first = Некоторых товаров нет в таком количестве. Измените его, чтобы оформить заказ.
cart-checkout = Оформить заказ

orders-title = Мои заказы
orders-none = У вас пока нет заказов.
order-title = Заказ
order-back = ← Мои заказы
order-number = Заказ
order-date = Дата
order-status = Статус
order-total = Итого
status-pending = Подтверждается
status-placed = Оформлен
status-rejected = Отклонён
status-canceled = Отменён
order-rejected = Этот заказ не удалось оформить.
order-rejected-stock = Заказ не удалось оформить: не хватает товара
order-short-requested = нужно { $count }
order-short-available = есть { $count }
order-back-to-cart = Вернуться в корзину
order-cancel = Отменить заказ
order-cancel-question = Отменить этот заказ? Товары вернутся в продажу.
order-cancel-confirm = Да, отменить
order-cancel-keep = Нет, оставить

notice-added = Товар добавлен в корзину.
notice-updated = Корзина обновлена.
notice-bad-quantity = Укажите количество от 1 до 99.
notice-not-enough-stock = Столько товара нет в наличии.
notice-cart-changed = Корзина изменилась с момента открытия. Проверьте её и оформите заказ снова.
notice-cart-empty = Ваша корзина пуста.
notice-not-sold = Некоторые товары больше не продаются. Удалите их и попробуйте снова.
notice-checkout-placed = Спасибо! Заказ оформлен.
notice-checkout-pending = Заказ подтверждается; результат скоро появится на этой странице.
notice-canceled = Заказ отменён.
notice-not-cancelable = Этот заказ уже нельзя отменить.
notice-profile-saved = Данные сохранены.
notice-password-changed = Пароль изменён. На других устройствах выполнен выход.

admin-title = Управление
